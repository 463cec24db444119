package form

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
)

func TestParseCPUs_Valid(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"0", 0},
		{"0.5", 500_000_000},
		{".5", 500_000_000},
		{"2", 2_000_000_000},
		{"2.", 2_000_000_000},
		{"1.000000001", 1_000_000_001},
		{"0.1000000000000", 100_000_000},
		{"9223372036", 9_223_372_036_000_000_000},
		{"9223372036.854775807", 9_223_372_036_854_775_807},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCPUs(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("parseCPUs(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseCPUs_Invalid(t *testing.T) {
	for _, in := range []string{
		"-1", "-0.5", "+1", "abc", "1/2", "1e3", ".", "0x10", " 1", "1,5", "0.0000000001",
		"9223372037", "9223372036.854775808", "99999999999999999999999",
	} {
		t.Run(in, func(t *testing.T) {
			if got, err := parseCPUs(in); err == nil {
				t.Errorf("parseCPUs(%q) = %d, want an error", in, got)
			}
		})
	}
}

func TestFormatCPUs_RoundTrip(t *testing.T) {
	for _, nano := range []int64{0, 1, 1_000_000, 250_000_000, 1_500_000_000, 2_000_000_000, 1_000_000_001, 9_223_372_036_854_775_807} {
		s := formatCPUs(nano)
		got, err := parseCPUs(s)
		if err != nil || got != nano {
			t.Errorf("parseCPUs(formatCPUs(%d) = %q) = %d, %v", nano, s, got, err)
		}
	}
	if got := formatCPUs(500_000_000); got != "0.5" {
		t.Errorf("formatCPUs(5e8) = %q, want 0.5", got)
	}
}

func TestParseMemory_Valid(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"0", 0},
		{"1000", 1000},
		{"256M", 256 << 20},
		{"256m", 256 << 20},
		{"256MiB", 256 << 20},
		{"1g", 1 << 30},
		{"1.5G", 3 << 29},
		{"512k", 512 << 10},
		{"2 GB", 2 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMemory(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("parseMemory(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseMemory_Invalid(t *testing.T) {
	for _, in := range []string{"-1", "12Q", "M", "1..5M", "99999999999999999999P"} {
		t.Run(in, func(t *testing.T) {
			if got, err := parseMemory(in); err == nil {
				t.Errorf("parseMemory(%q) = %d, want an error", in, got)
			}
		})
	}
}

func TestFormatMemory_RoundTrip(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, ""},
		{1000, "1000"},
		{1536 << 10, "1536K"},
		{256 << 20, "256M"},
		{1 << 30, "1G"},
		{3 << 40, "3T"},
		{5_000_001, "5000001"},
	}
	for _, tt := range tests {
		got := formatMemory(tt.in)
		if got != tt.want {
			t.Errorf("formatMemory(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := parseMemory(got); err != nil || back != tt.in {
			t.Errorf("parseMemory(%q) = %d, %v; want %d", got, back, err, tt.in)
		}
	}
}

func TestParseDuration_Cases(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"10s", 10 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"500ms", 500 * time.Millisecond, false},
		{"0", 0, false},
		{"10", 0, true},
		{"-1s", 0, true},
		{"1d", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestQuoteInput_Truncates(t *testing.T) {
	long := "é" + strings.Repeat("x", 200)
	got := quoteInput(long)
	if len(got) > 120 {
		t.Errorf("quoteInput of 200 bytes is %d bytes long", len(got))
	}
	if got := quoteInput("short"); got != `"short"` {
		t.Errorf("quoteInput(short) = %s", got)
	}
}

func TestPortStrings_Summary(t *testing.T) {
	got := PortStrings([]swarm.PortConfig{
		{Protocol: "tcp", TargetPort: 8080, PublishedPort: 18081, PublishMode: "host"},
		{Protocol: "udp", TargetPort: 53, PublishedPort: 53, PublishMode: "ingress"},
		{TargetPort: 80},
	})
	want := []string{"18081:8080/tcp (host)", "53:53/udp (ingress)", "80/tcp (ingress)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PortStrings (-want +got):\n%s", diff)
	}
	if got := PortStrings(nil); got == nil || len(got) != 0 {
		t.Errorf("PortStrings(nil) = %#v, want an empty list (JSON [])", got)
	}
}

func TestFormatPort_RoundTrip(t *testing.T) {
	for _, p := range []swarm.PortConfig{
		{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"},
		{Protocol: "udp", TargetPort: 53, PublishMode: "ingress"},
		{Protocol: "sctp", TargetPort: 9, PublishedPort: 9, PublishMode: "host"},
		{Protocol: "tcp", TargetPort: 443, PublishMode: "host"},
	} {
		s := formatPort(p)
		got, err := parsePort(s)
		if err != nil {
			t.Fatalf("parsePort(%q): %v", s, err)
		}
		if diff := cmp.Diff([]swarm.PortConfig{p}, got); diff != "" {
			t.Errorf("parsePort(formatPort(%+v) = %q) (-want +got):\n%s", p, s, diff)
		}
	}
}
