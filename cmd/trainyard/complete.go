package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/pkg/api"
	"github.com/trainyard/trainyard/pkg/client"
)

// Shell completion of the arguments the server knows: projects from its
// configuration and its trains, branches from its trains, MRs from their
// cars (or, to add, the forge's open MRs), dead letters by id. A
// server that cannot be asked completes nothing rather than files.

const none = cobra.ShellCompDirectiveNoFileComp

// trains asks the server for its trains, with the client the command
// would use.
func (o *trainOptions) trains(cmd *cobra.Command) (*client.Client, []api.TrainSummary, bool) {
	c, _, err := o.setup(cmd)
	if err != nil {
		return nil, nil, false
	}
	trains, err := c.Trains(cmd.Context())
	return c, trains, err == nil
}

// completeTrain completes PROJECT then BRANCH.
func (o *trainOptions) completeTrain(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 1 {
		return nil, none
	}
	c, trains, ok := o.trains(cmd)
	if !ok {
		return nil, none
	}
	var out []string
	if len(args) == 0 {
		// Projects without a train yet too: the first add makes one.
		if ps, err := c.Projects(cmd.Context()); err == nil {
			for _, p := range ps {
				if p.Forge == o.forge {
					out = append(out, p.Project)
				}
			}
		}
	}
	for _, t := range trains {
		if t.Forge != o.forge {
			continue
		}
		switch {
		case len(args) == 0:
			out = append(out, t.Project)
		case strings.EqualFold(t.Project, args[0]):
			out = append(out, fmt.Sprintf("%s\t%d cars", t.Branch, t.Cars))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), none
}

// completeMR completes PROJECT then the MRs on that project's trains.
func (o *trainOptions) completeMR(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) != 1 {
		return o.completeTrain(cmd, args[:min(len(args), 1)], toComplete)
	}
	c, trains, ok := o.trains(cmd)
	if !ok {
		return nil, none
	}
	var out []string
	for _, t := range o.trainsOf(cmd, c, trains, args[0]) {
		for _, car := range t.Cars {
			out = append(out, fmt.Sprintf("%d\t%s (%s, position %d)", car.MR, oneLine(car.Title, 80), oneLine(t.Branch, 80), car.Position))
		}
	}
	return out, none
}

// trainsOf loads the trains of project that have cars, of those listed;
// one that cannot be read is left out.
func (o *trainOptions) trainsOf(cmd *cobra.Command, c *client.Client, trains []api.TrainSummary, project string) []api.Train {
	var out []api.Train
	for _, s := range trains {
		if s.Forge != o.forge || !strings.EqualFold(s.Project, project) || s.Cars == 0 {
			continue
		}
		if t, err := c.Train(cmd.Context(), s.Forge, s.Project, s.Branch); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// completeOpenMR completes PROJECT then the project's open MRs that are
// on no train yet: what `train add` may take. A server that cannot list
// them completes nothing.
func (o *trainOptions) completeOpenMR(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) != 1 {
		return o.completeTrain(cmd, args[:min(len(args), 1)], toComplete)
	}
	c, trains, ok := o.trains(cmd)
	if !ok {
		return nil, none
	}
	open, err := c.OpenMRs(cmd.Context(), o.forge, args[0], 0)
	if err != nil {
		return nil, none
	}
	onTrain := map[int64]bool{}
	for _, t := range o.trainsOf(cmd, c, trains, args[0]) {
		for _, car := range t.Cars {
			onTrain[car.MR] = true
		}
	}
	var out []string
	for _, m := range open {
		if !onTrain[m.MR] {
			out = append(out, fmt.Sprintf("%d\t%s (into %s)", m.MR, oneLine(m.Title, 80), oneLine(m.TargetBranch, 80)))
		}
	}
	return out, none
}

// completeDead completes a dead letter's id.
func (o *trainOptions) completeDead(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, none
	}
	c, _, err := o.setup(cmd)
	if err != nil {
		return nil, none
	}
	dls, err := c.DeadLetters(cmd.Context(), 100)
	if err != nil {
		return nil, none
	}
	out := make([]string, 0, len(dls))
	for _, d := range dls {
		out = append(out, d.ID+"\t"+oneLine(d.Reason, 80))
	}
	return out, none
}
