// Package registry is SwarmOps' side of private image registries: a
// registry API v2 client (catalog, tags with their manifests, deletes by
// digest; basic and bearer-token authentication through
// go-containerregistry) and the Service over the registrations in the
// store, which also answers the credentials a deploy sends to the engine
// for an image on a registered registry.
package registry
