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
	mainFlying, allFree := 0, p.free(false)
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
	// Urgent cars are tested at once, each alone, whatever the window.
	for len(queue) > 0 && p.t.Cars[queue[0]].Priority == PriorityUrgent {
		if !p.buildBatch(queue[:1]) {
			return
		}
		p.start(queue[0])
		queue = queue[1:]
		mainFlying++
		allFree--
	}
	free := min(p.window()-mainFlying, allFree)
	if free <= 0 || len(queue) == 0 {
		return
	}
	size := min(max((len(queue)+free-1)/free, 1), p.batchLimit())
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
				// The batch's last car is the one whose pipeline starts.
				p.build(i, base, i == batch[len(batch)-1])
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

// batchLimit is the most cars one main-line pipeline may test now:
// BatchSize, or with MaxBatchSize set a size that follows the failure
// rate the train has observed. A broken MR fails every pipeline that
// carries it, so a chain of batches longer than the run of good MRs
// between failures tests its tail for nothing, and one shorter leaves for
// the next cycle good MRs that one pipeline could have carried. The
// observed mean run is merged / (failed + 1), the run still going
// counted as one; a window of batches is sized to cover a third of it: a
// chain as long as the mean run fails more often than not, and a half
// lost throughput at some windows (docs/simulation.md).
func (p *planner) batchLimit() int {
	s := p.t.Settings
	if s.MaxBatchSize <= 0 {
		return s.BatchSize
	}
	run := p.t.BatchMerged / (p.t.BatchFailed + 1)
	return min(max(run/(3*s.MaxParallel), s.batchFloor()), s.MaxBatchSize)
}

// batchFloor is the least the adaptive size goes down to: BatchSize,
// since smaller batches lost throughput at every failure rate measured
// (docs/simulation.md); frequent failures keep the size there.
func (s Settings) batchFloor() int { return max(1, min(s.BatchSize, s.MaxBatchSize)) }

// batchCeiling is the most cars a main-line pipeline may ever test: the
// cars built under an earlier, bigger limit still ride together.
func (s Settings) batchCeiling() int {
	return max(1, s.BatchSize, s.MaxBatchSize)
}

// batchMemory is how many failed batches the estimate remembers before
// both counts are halved: enough runs to smooth one lucky long run out
// (a single run sized batches too big at p = 0.05), few enough that old
// runs fade when the failure rate changes.
const batchMemory = 8

// mergedBatch counts n merged cars into the failure-rate estimate.
func (p *planner) mergedBatch(n int) {
	if p.t.Settings.MaxBatchSize > 0 {
		p.t.BatchMerged += n
	}
}

// failedBatch counts a failed batch into the failure-rate estimate, a
// flake too: either way the cars behind it were tested for nothing.
func (p *planner) failedBatch() {
	if p.t.Settings.MaxBatchSize <= 0 {
		return
	}
	p.t.BatchFailed++
	if p.t.BatchFailed >= batchMemory {
		p.t.BatchFailed /= 2
		p.t.BatchMerged /= 2
	}
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
