// Package idempotency owns the rules of Idempotency-Key: a key is claimed
// per user for one request (method, path, body), the first answer is kept
// for a day and replayed to retries through any instance, and a claim whose
// request died frees itself. One user holds at most MaxKeysPerUser live
// keys, counted on every instance at once (429 past it). Transports compute the fingerprint and capture
// answers; what a key may be and how long it lives are decided here.
//
// idempotency imports the store interface, never a backend or a transport.
package idempotency
