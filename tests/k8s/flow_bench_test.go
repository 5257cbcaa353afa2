package k8s

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/loadgen"
)

// flowControlConfig is our default profile (GAIE's: queue 2, KV cache 2,
// prefix 3) with GAIE's flowControl feature gate and its default policies
// (global-strict fairness, first come first served), no queue limits, and
// the given utilization-detector parameters ("" for GAIE's thresholds).
func flowControlConfig(detector string) string {
	c := `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl]
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: max-score-picker
`
	if detector != "" {
		c += "- type: utilization-detector\n  parameters: " + detector + "\n"
	}
	return c + `schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: max-score-picker}
`
}

// queueGate holds a request only once every server has one waiting.
const queueGate = "{queueDepthThreshold: 1, kvCacheUtilThreshold: 1}"

// BenchmarkFlowControl shows what flow control (GAIE's `featureGates:
// [flowControl]`) does for a pool driven to and past saturation: the
// servers and the mixed workload of BenchmarkScheduling (saturation
// measured the same way), a quarter of the requests sent under the
// objective "interactive" (priority 10, the rest priority 0), through
// `aigw epp` with our default profile, without flow control, with it at
// GAIE's default saturation thresholds, and with it gating on the servers'
// queues alone (queueGate), the same planned requests for
// all. Without it every request goes to a
// server at once and waits in that server's first-come-first-served queue
// beside all the others; with it the picker holds requests while every
// server is saturated and lets the interactive ones through first. It
// prints per load and class p50/p90/mean TTFT, p90 NTPOT and completions,
// and each class's TTFT with flow control over without.
//
//	go test ./tests/k8s -run '^$' -bench FlowControl -benchtime 1x -timeout 30m
//
// (about 6 minutes; `make bench-flow`). AIGW_SCHED_BENCH_LOADS,
// AIGW_SCHED_BENCH_DURATION and AIGW_SCHED_BENCH_CANDIDATE apply as to
// BenchmarkScheduling; the default loads are 90, 100 and 120 % of
// saturation.
func BenchmarkFlowControl(b *testing.B) {
	s := newSchedBench(b)
	if !s.loadsSet {
		s.loads = []float64{0.9, 1.0, 1.2}
	}
	w := schedWorkloads()[0] // mixed
	sat := s.saturation(b, w)
	if sat == 0 {
		b.Skip("no saturation rate (the saturation sub-benchmark did not run)")
	}
	const objective, priority = "interactive", 10
	tagged := loadgen.Tagged{Workload: w.w, Name: epp.ObjectiveHeader, Value: objective, Fraction: 0.25}
	strategies := []strategy{
		{name: "ours"},
		{name: "ours+flow-control", config: flowControlConfig("")},
		{name: "ours+flow-control-queue-gate", config: flowControlConfig(queueGate)},
	}
	if c := os.Getenv("AIGW_SCHED_BENCH_CANDIDATE"); c != "" {
		strategies = append(strategies, strategy{name: "candidate", config: c})
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n== flow control: mixed workload, 25 %% %q (priority %d), saturation %.1f req/s ==\n", objective, priority, sat)
	for _, load := range s.loads {
		plan := loadgen.Plan(tagged, load*sat, s.warmup+s.window, w.seed)
		rows := map[string][2]loadgen.Summary{}
		b.Run(fmt.Sprintf("load=%d", int(math.Round(load*100))), func(b *testing.B) {
			for _, st := range strategies {
				st.eppArgs = []string{fmt.Sprintf("--objective=%s=%d", objective, priority)}
				st.clientHeaders = []string{epp.ObjectiveHeader}
				b.Run(st.name, func(b *testing.B) {
					var classes [2]loadgen.Summary
					for b.Loop() {
						out := s.pointRun(b.Context(), b, st, plan)
						var inter, std []loadgen.Result
						for i, r := range out.res {
							if r.At < s.warmup {
								continue
							}
							if plan[i].Request.Headers[epp.ObjectiveHeader] == objective {
								inter = append(inter, r)
							} else {
								std = append(std, r)
							}
						}
						classes = [2]loadgen.Summary{loadgen.Summarize(inter), loadgen.Summarize(std)}
					}
					for i, class := range []string{objective, "standard"} {
						b.ReportMetric(msec(classes[i].TTFTP90), class+"-p90-ttft-ms")
						b.ReportMetric(100*classes[i].ErrorRate, class+"-err-%")
					}
					rows[st.name] = classes
				})
			}
		})
		fmt.Fprintf(&report, "\n-- %d%% of saturation (%.1f req/s offered, %d requests) --\n", int(math.Round(load*100)), load*sat, len(plan))
		tw := tabwriter.NewWriter(&report, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "strategy\tclass\tp50 TTFT ms\tp90 TTFT ms\tmean TTFT ms\tp90 NTPOT ms\tcompleted\terr %\t")
		for _, st := range strategies {
			for i, class := range []string{objective, "standard"} {
				c := rows[st.name][i]
				fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.1f\t%d/%d\t%.1f\t\n", st.name, class,
					msec(c.TTFTP50), msec(c.TTFTP90), msec(c.TTFTMean), msec(c.NTPOTP90), c.Completed, c.Requests, 100*c.ErrorRate)
			}
		}
		_ = tw.Flush()
		without := rows["ours"]
		for _, st := range strategies[1:] {
			with := rows[st.name]
			fmt.Fprintf(&report, "%s / none: %s p90 TTFT %.2f×, mean %.2f×; standard p90 TTFT %.2f×, mean %.2f×\n", st.name, objective,
				ratio(with[0].TTFTP90, without[0].TTFTP90), ratio(with[0].TTFTMean, without[0].TTFTMean),
				ratio(with[1].TTFTP90, without[1].TTFTP90), ratio(with[1].TTFTMean, without[1].TTFTMean))
		}
	}
	fmt.Print(report.String())
}
