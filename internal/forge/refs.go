package forge

import (
	"regexp"
	"strconv"
)

// pipelineRef is how the planner names a pipeline in what it writes.
var pipelineRef = regexp.MustCompile(`pipeline #([0-9]+)`)

// PipelineRefs rewrites every "pipeline #<id>" the planner wrote in text
// with name(id), for forges whose pipeline ids mean nothing to a reader.
// A name of "" keeps the reference as it is.
func PipelineRefs(text string, name func(id int64) string) string {
	return pipelineRef.ReplaceAllStringFunc(text, func(ref string) string {
		id, err := strconv.ParseInt(pipelineRef.FindStringSubmatch(ref)[1], 10, 64)
		if err != nil {
			return ref
		}
		if n := name(id); n != "" {
			return n
		}
		return ref
	})
}
