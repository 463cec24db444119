package redis

import "context"

// SetWaiting sets l's test hook, called each time an Acquire finds its key
// taken and is about to wait before trying again. Only the tests of this
// package can call it: the file is compiled into test binaries alone.
func SetWaiting(l *Locker, waiting func(ctx context.Context, key string)) { l.waiting = waiting }
