package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// deadLetterTimeout bounds the Redis read behind one scrape.
const deadLetterTimeout = 2 * time.Second

// WatchDeadLetters exports the number of dead letters, read with count at
// every scrape, as trainyard_events_dead_letters: an alert on it above zero
// tells an operator that events wait for a look (trainyard events dead).
func WatchDeadLetters(reg prometheus.Registerer, count func(ctx context.Context) (int64, error)) error {
	return reg.Register(&deadLetters{
		desc:  prometheus.NewDesc(namespace+"_events_dead_letters", "Events given up on and kept in the dead-letter stream.", nil, nil),
		count: count,
	})
}

type deadLetters struct {
	desc  *prometheus.Desc
	count func(ctx context.Context) (int64, error)
}

func (d *deadLetters) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

// Collect reports the count, or an invalid metric when Redis does not
// answer: the handler goes on with every other metric.
func (d *deadLetters) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), deadLetterTimeout)
	defer cancel()
	n, err := d.count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(d.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(n))
}
