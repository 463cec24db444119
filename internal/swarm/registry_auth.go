package swarm

import (
	"context"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// registryAuth answers the encoded credentials (X-Registry-Auth) that a
// create or update sends with image, "" when no registered registry
// serves it or no lookup is wired. The engine keeps them with the service
// and hands them to every node that runs one of its tasks, joined later
// or not, and the Go client uses them to resolve the image's digest.
//
// A lookup that fails stops the change before it is written: deploying
// without the credentials would leave nodes that cannot pull.
func (f *Fleet) registryAuth(ctx context.Context, image string) (string, error) {
	if f.authFor == nil || image == "" {
		return "", nil
	}
	auth, err := f.authFor(ctx, image)
	if err != nil {
		return "", authLookupFailed(image, err)
	}
	return auth, nil
}

// authLookupFailed is the error of a failed credential lookup for image.
// Only a public cause's message is shown; any cause is kept for the log,
// behind opaqueCause.
func authLookupFailed(image string, err error) error {
	reason := "the cause is in the server's log"
	if pe, ok := errs.Public(err); ok {
		reason = pe.Message
	}
	return errs.Unavailable(opaqueCause{err}, "the registry lookup for image %s failed (%s): nothing was changed, "+
		"since nodes could not pull from %s without its credentials; retry once the registered registries can be read",
		image, reason, registryHost(image))
}

// opaqueCause carries a lookup's error for the log, and hides its chain
// from the engine-failure classification (classify) that a write step's
// error goes through: a lookup that timed out or could not reach the store
// says nothing about the manager, and the change was never sent.
type opaqueCause struct{ err error }

func (o opaqueCause) Error() string { return o.err.Error() }

// registryHost is the registry image is pulled from ("docker.io" for
// Docker Hub), or image itself when it does not parse.
func registryHost(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image
	}
	return reference.Domain(named)
}

// specImage is the image spec's containers run, "" when it runs none (a
// plugin service).
func specImage(spec *swarm.ServiceSpec) string {
	if spec == nil || spec.TaskTemplate.ContainerSpec == nil {
		return ""
	}
	return spec.TaskTemplate.ContainerSpec.Image
}
