// kedacheck: KEDA's Kafka scaler (pkg/scalers, the release pinned in go.mod) driven line by
// line from stdin, so tests/keda/check.py can put the broker into a state, ask KEDA, ask
// `bin/worker lag`, and compare. One request per line (JSON):
//
//	{"scaler": "name", "metadata": {"bootstrapServers": ..., "topic": ..., ...}}
//
// creates the scaler "name" on first use with that trigger metadata (NewKafkaScaler) and polls
// it once (GetMetricsAndActivity); the same name polls the same scaler again, so state KEDA
// keeps between polls (excludePersistentLag) carries over as in the operator. Answers one line:
//
//	{"metric": <lag metric, the value the HPA divides by lagThreshold>, "active": bool}
//	{"error": "..."}   (NewKafkaScaler or the poll failed)
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/kedacore/keda/v2/pkg/scalers"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

type request struct {
	Scaler   string            `json:"scaler"`
	Metadata map[string]string `json:"metadata"`
}

type answer struct {
	Metric int64  `json:"metric"`
	Active bool   `json:"active"`
	Error  string `json:"error,omitempty"`
}

func poll(ctx context.Context, live map[string]scalers.Scaler, req request) answer {
	s, ok := live[req.Scaler]
	if !ok {
		var err error
		s, err = scalers.NewKafkaScaler(ctx, &scalersconfig.ScalerConfig{
			ScalableObjectName:      "ordersink-worker",
			ScalableObjectNamespace: "ordersink",
			ScalableObjectType:      "ScaledObject",
			TriggerType:             "kafka",
			TriggerMetadata:         req.Metadata,
			AuthParams:              map[string]string{},
			ResolvedEnv:             map[string]string{},
			GlobalHTTPTimeout:       10 * time.Second,
		})
		if err != nil {
			return answer{Error: err.Error()}
		}
		live[req.Scaler] = s
	}
	specs := s.GetMetricSpecForScaling(ctx)
	if len(specs) != 1 || specs[0].External == nil {
		return answer{Error: "the scaler has no external metric"}
	}
	values, active, err := s.GetMetricsAndActivity(ctx, specs[0].External.Metric.Name)
	if err != nil {
		return answer{Error: err.Error()}
	}
	if len(values) != 1 {
		return answer{Error: fmt.Sprintf("%d metric values", len(values))}
	}
	// KEDA reports the metric in milli-units; the HPA compares it with lagThreshold.
	return answer{Metric: values[0].Value.MilliValue() / 1000, Active: active}
}

func main() {
	logf.SetLogger(logr.Discard())
	ctx := context.Background()
	live := map[string]scalers.Scaler{}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		a := answer{}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			a.Error = "bad request: " + err.Error()
		} else {
			a = poll(ctx, live, req)
		}
		if err := out.Encode(a); err != nil {
			os.Exit(1)
		}
	}
	for _, s := range live {
		_ = s.Close(ctx)
	}
}
