package httpapi_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/httpapi"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestMain runs the API suite, then fails it if a route of the route table
// was never called with success through the test clients, which check
// every call against the OpenAPI document: a new route cannot escape the
// document's check.
func TestMain(m *testing.M) {
	code := testenv.Main(m)
	if missing := routesValidated(); code == 0 {
		code = missing
	}
	os.Exit(code)
}

func routesValidated() int {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			fmt.Printf("route coverage: not checked, as -%s=%s runs part of the suite\n", name[len("test."):], f.Value)
			return 0
		}
	}
	if testing.Short() {
		fmt.Println("route coverage: not checked, as -short skips the engine tests")
		return 0
	}
	missing := apitest.Unvalidated(httpapi.New(httpapi.Deps{}).Routes())
	for _, r := range missing {
		fmt.Printf("route coverage: %s was never answered with success to a test client, so its answer was never checked against the OpenAPI document; add a test that calls it\n", r)
	}
	if len(missing) > 0 {
		return 1
	}
	return 0
}
