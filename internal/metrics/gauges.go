package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trainyard/trainyard/internal/train"
)

// trainsTimeout bounds the Redis reads behind one scrape of the trains.
const trainsTimeout = 5 * time.Second

// WatchTrains exports the cars on each train by state (trainyard_cars) and
// whether it is paused (trainyard_train_paused), read with load at every
// scrape. Read from Redis, they are the same on every replica and never
// stale: a gauge set by the replica that last handled a train would keep
// an old count on the others. load should return the configured trains
// only, so label values stay few.
func WatchTrains(reg prometheus.Registerer, load func(ctx context.Context) ([]train.Train, error)) error {
	return reg.Register(&trainGauges{
		cars: prometheus.NewDesc(namespace+"_cars",
			"Cars on each train by state, read from Redis at each scrape.", []string{"train", "state"}, nil),
		paused: prometheus.NewDesc(namespace+"_train_paused",
			"1 while a train is paused, 0 otherwise, read from Redis at each scrape.", []string{"train"}, nil),
		load: load,
	})
}

type trainGauges struct {
	cars, paused *prometheus.Desc
	load         func(ctx context.Context) ([]train.Train, error)
}

func (g *trainGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.cars
	ch <- g.paused
}

// Collect reports every train, or invalid metrics when Redis does not
// answer: the handler goes on with every other metric.
func (g *trainGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), trainsTimeout)
	defer cancel()
	trains, err := g.load(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(g.cars, err)
		ch <- prometheus.NewInvalidMetric(g.paused, err)
		return
	}
	states := carStates()
	seen := map[string]bool{}
	for _, t := range trains {
		name := t.Key.String()
		// One series per train: a second would fail the whole scrape.
		if seen[name] {
			continue
		}
		seen[name] = true
		var counts [len(states)]int
		for i := range t.Cars {
			for j, s := range states {
				if t.Cars[i].State == s {
					counts[j]++
					break
				}
			}
		}
		for j, s := range states {
			ch <- prometheus.MustNewConstMetric(g.cars, prometheus.GaugeValue, float64(counts[j]), name, string(s))
		}
		paused := 0.0
		if t.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(g.paused, prometheus.GaugeValue, paused, name)
	}
}
