package httpx

import (
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
)

// StreamLimits bound what event and log streams may hold on an instance.
// Zero fields take the defaults of New.
type StreamLimits struct {
	// PerUser and PerInstance cap the streams open at once for one user
	// and for the whole instance; past them a new stream answers 429.
	PerUser, PerInstance int
	// LogTailMax is the most lines a logs request may ask for with tail.
	LogTailMax int
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
	if slots, _ := c.Locals(localStreamSlots).(*streamSlots); slots != nil {
		return slots.limits.LogTailMax
	}
	return StreamLimits{}.withDefaults().LogTailMax
}

// releaseUnstreamed gives back the slot of a request that claimed one and
// answered no stream (its handler failed after AcquireStream).
func releaseUnstreamed(c *fiber.Ctx) {
	if slot, ok := c.Locals(localStreamSlot).(*streamSlot); ok && !c.Response().IsBodyStream() {
		slot.release()
	}
}
