package httpx

import (
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
)

// StreamLimits bound what event and log streams may hold on an instance,
// and set their timings. Zero fields take the defaults of New. Each app
// has its own: tests set short or long timings on the servers they start,
// never on a variable other servers read.
type StreamLimits struct {
	// PerUser and PerInstance cap the streams open at once for one user
	// and for the whole instance; past them a new stream answers 429.
	PerUser, PerInstance int
	// LogTailMax is the most lines a logs request may ask for with tail.
	LogTailMax int
	// Heartbeat is how often an idle server-sent event stream writes a
	// comment, so proxies keep the connection open and a vanished client
	// is noticed (15 s when 0).
	Heartbeat time.Duration
	// RecheckEvery is how often an open stream asks StreamOptions.Recheck
	// whether its caller may still read it; a credential taken back ends
	// the stream within this time, plus one store read (5 s when 0).
	RecheckEvery time.Duration
	// WriteTimeout bounds each write of a stream to its client: a client
	// that stops reading is cut off instead of holding the stream, its
	// engine connection and a stream slot. Heartbeats and items renew it
	// (30 s when 0).
	WriteTimeout time.Duration
}

func (l StreamLimits) withDefaults() StreamLimits {
	if l.PerUser <= 0 {
		l.PerUser = 20
	}
	if l.PerInstance <= 0 {
		l.PerInstance = 1000
	}
	if l.LogTailMax <= 0 {
		l.LogTailMax = 10000
	}
	if l.Heartbeat <= 0 {
		l.Heartbeat = 15 * time.Second
	}
	if l.RecheckEvery <= 0 {
		l.RecheckEvery = 5 * time.Second
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 30 * time.Second
	}
	return l
}

// streamSlots counts the open streams of an instance, by user.
type streamSlots struct {
	limits StreamLimits
	mu     sync.Mutex
	total  int
	byUser map[string]int
}

func newStreamSlots(l StreamLimits) *streamSlots {
	return &streamSlots{limits: l.withDefaults(), byUser: map[string]int{}}
}

// streamSlot is one claimed stream; release gives it back, once.
type streamSlot struct {
	once  sync.Once
	slots *streamSlots
	user  string
}

func (s *streamSlot) release() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		s.slots.mu.Lock()
		defer s.slots.mu.Unlock()
		s.slots.total--
		if s.slots.byUser[s.user]--; s.slots.byUser[s.user] <= 0 {
			delete(s.slots.byUser, s.user)
		}
	})
}

// streamRetry is the Retry-After of a refused stream.
const streamRetry = 10 * time.Second

func (s *streamSlots) acquire(user string) (*streamSlot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser[user] >= s.limits.PerUser {
		return nil, errs.RateLimited(streamRetry, "%s already has %d event and log streams open on this instance, the most one user may (SWARMOPS_STREAMS_PER_USER); close one first", user, s.byUser[user])
	}
	if s.total >= s.limits.PerInstance {
		return nil, errs.RateLimited(streamRetry, "this instance has %d event and log streams open, the most it serves at once (SWARMOPS_STREAMS_PER_INSTANCE); try again later", s.total)
	}
	s.total++
	s.byUser[user]++
	return &streamSlot{slots: s, user: user}, nil
}

// AcquireStream claims one of the instance's and the request's user's
// stream slots before a handler opens what it streams: 429 past the
// limits. Stream gives the slot back when the stream ends; a request that
// answers no stream gives it back when it is done.
func AcquireStream(c *fiber.Ctx) error {
	slots, _ := c.Locals(localStreamSlots).(*streamSlots)
	if slots == nil {
		return nil
	}
	if _, held := c.Locals(localStreamSlot).(*streamSlot); held {
		return nil
	}
	slot, err := slots.acquire(LocalString(c, localUser))
	if err != nil {
		return err
	}
	c.Locals(localStreamSlot, slot)
	return nil
}

// LogTailMax answers the most log lines a logs request may ask for.
func LogTailMax(c *fiber.Ctx) int {
	return limitsOf(c).LogTailMax
}

// limitsOf answers the stream limits of the app serving c (the defaults
// for an app made without New).
func limitsOf(c *fiber.Ctx) StreamLimits {
	if slots, _ := c.Locals(localStreamSlots).(*streamSlots); slots != nil {
		return slots.limits
	}
	return StreamLimits{}.withDefaults()
}

// releaseUnstreamed gives back the slot of a request that claimed one and
// answered no stream (its handler failed after AcquireStream).
func releaseUnstreamed(c *fiber.Ctx) {
	if slot, ok := c.Locals(localStreamSlot).(*streamSlot); ok && !c.Response().IsBodyStream() {
		slot.release()
	}
}
