// Package audit records every mutating call — who, what, on which cluster
// and object, through which request, and how it ended — in the shared
// store, so the log is complete whichever instance served the call. The
// domain packages record after each mutation; the caller's identity travels
// in the context (WithActor), set once per request by the transport.
//
// audit imports the store interfaces, never a backend or a transport.
package audit
