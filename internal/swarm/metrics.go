package swarm

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// EngineMetrics counts and times the calls made to every engine endpoint,
// by method and status ("error" when no answer came), for /metrics.
func EngineMetrics(reg prometheus.Registerer) PoolOption {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "swarmops_engine_requests_total", Help: "Docker Engine API calls, by endpoint, method and status.",
	}, []string{"endpoint", "method", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "swarmops_engine_request_duration_seconds", Help: "Time to the engine's answer headers, by endpoint and method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"endpoint", "method"})
	reg.MustRegister(calls, duration)
	return WithTransport(func(endpoint string, next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			start := time.Now()
			resp, err := next.RoundTrip(r)
			status := "error"
			if err == nil {
				status = strconv.Itoa(resp.StatusCode)
			}
			calls.WithLabelValues(endpoint, r.Method, status).Inc()
			duration.WithLabelValues(endpoint, r.Method).Observe(time.Since(start).Seconds())
			return resp, err
		})
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
