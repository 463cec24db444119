// Package form owns the service form of the API contract: the JSON object a
// user writes to create or change a service, in the docker CLI's own syntax
// ("8080:80", "type=volume,src=data,dst=/data", "node.role==worker"), and
// its translation to and from the engine's swarm.ServiceSpec.
//
// Service.Apply validates every given field and writes it onto a spec,
// leaving the fields it was not given alone, so that one function serves
// create (Apply onto an empty spec) and PATCH (Apply onto the current spec).
// A malformed field is an errs.ErrInvalid naming the field and the accepted
// syntax; the spec is then left as it was. FromSpec goes the other way and
// is what lets a UI's "edit" round-trip. Names of networks, secrets and
// configs are resolved through the small Refs and Names interfaces, which
// the domain implements with engine lookups.
//
// form only knows the engine's API types. It must not import fiber,
// fasthttp, go-redis, or the docker client; the parsers it borrows from
// docker/cli come from its opts packages, never cli/command.
package form
