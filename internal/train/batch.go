package train

// Batching. A pipeline of car k tests the tree of every main car up to k,
// so testing only every b-th car tests the cars between as a batch: the
// cars ride on the pipeline of the batch's last car, and its pass merges
// them all. When that pipeline fails, the batch is bisected by prefixes
// (bisect.go). Batches are as small as the free pipelines allow, so a
// short queue gets a pipeline per car and a long one batches of up to
// Settings.BatchSize.

// advanceMain builds the cars at the end of the main line and starts a
// pipeline for each batch whose cars all have their commits.
func (p *planner) advanceMain() {
	if p.t.TargetHead == "" || p.mergingSuspects() {
		return
	}
	var line []int // indices of the main cars
	tail := 0      // where in line the cars without a pipeline start
	mainFlying, allFlying := 0, p.inFlight()
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.Suspect != 0 {
			continue
		}
		if c.State == StateFailed {
			// Nothing new goes on top of a failure until it is settled.
			return
		}
		line = append(line, i)
		if c.hasPipeline() || p.frozen(c.MR) {
			tail = len(line)
			if c.inFlight() {
				mainFlying++
			}
		}
	}
	queue := line[tail:]
	free := min(p.window()-mainFlying, p.t.Settings.MaxParallel-allFlying)
	if free <= 0 || len(queue) == 0 {
		return
	}
	size := min(max((len(queue)+free-1)/free, 1), p.t.Settings.BatchSize)
	covered := min(len(queue), free*size)
	for k := 0; k < covered; k += size {
		batch := queue[k:min(k+size, covered)]
		if !p.buildBatch(batch) {
			return
		}
		p.start(batch[len(batch)-1])
	}
}

// buildBatch asks for the next commit the batch lacks and reports whether
// every car of it is built. Cars are built front first: each needs the
// commit of the one ahead.
func (p *planner) buildBatch(batch []int) bool {
	for _, i := range batch {
		switch c := &p.t.Cars[i]; c.State {
		case StateBuilt:
			continue
		case StateQueued:
			if base := p.expectedBase(i); base != "" {
				p.build(i, base)
			}
		}
		return false
	}
	return true
}

// window is how many main-line pipelines may run at once: the train's
// current window, which grows by one with every merged car and halves with
// every failed batch, as Zuul's does, between MinWindow and MaxParallel.
// A new train starts at MaxParallel.
func (p *planner) window() int {
	s := p.t.Settings
	if p.t.Window == 0 {
		return s.MaxParallel
	}
	return min(max(p.t.Window, s.MinWindow), s.MaxParallel)
}

func (p *planner) growWindow(n int) {
	p.t.Window = min(p.window()+n, p.t.Settings.MaxParallel)
}

func (p *planner) shrinkWindow() {
	p.t.Window = max(p.window()/2, p.t.Settings.MinWindow)
}

// RidesWith returns the MR whose pipeline tests car i together with it (the
// last car of its batch), or 0 when car i is tested by its own pipeline or
// by none yet.
func (t *Train) RidesWith(i int) int64 {
	if i < 0 || i >= len(t.Cars) || t.Cars[i].State != StateBuilt || t.Cars[i].Suspect != 0 {
		return 0
	}
	for j := i + 1; j < len(t.Cars); j++ {
		c := &t.Cars[j]
		if c.Suspect != 0 {
			continue
		}
		if c.hasPipeline() {
			return c.MR
		}
		if c.State != StateBuilt {
			return 0
		}
	}
	return 0
}
