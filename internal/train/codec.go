package train

import (
	"encoding/json"
	"fmt"
)

// Actions is a list of actions that survives a JSON round trip, so a train
// can carry the actions it still owes the world (its outbox) through a
// crash.
type Actions []Action

type envelope struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// MarshalJSON tags each action with its kind.
func (as Actions) MarshalJSON() ([]byte, error) {
	out := make([]envelope, 0, len(as))
	for _, a := range as {
		kind := kindOf(a)
		if kind == "" {
			return nil, fmt.Errorf("encode action %T: unknown kind", a)
		}
		data, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("encode action %s: %w", kind, err)
		}
		out = append(out, envelope{Kind: kind, Data: data})
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes actions written by MarshalJSON.
func (as *Actions) UnmarshalJSON(b []byte) error {
	var envs []envelope
	if err := json.Unmarshal(b, &envs); err != nil {
		return fmt.Errorf("decode actions: %w", err)
	}
	out := make(Actions, 0, len(envs))
	for i, e := range envs {
		a, err := decodeAction(e.Kind, e.Data)
		if err != nil {
			return fmt.Errorf("decode action %d (%s): %w", i, e.Kind, err)
		}
		out = append(out, a)
	}
	*as = out
	return nil
}

func kindOf(a Action) string {
	switch a.(type) {
	case BuildCar:
		return "build_car"
	case StartPipeline:
		return "start_pipeline"
	case CancelPipeline:
		return "cancel_pipeline"
	case FastForwardTarget:
		return "fast_forward"
	case DeleteCarRef:
		return "delete_car_ref"
	case CloseMR:
		return "close_mr"
	case Comment:
		return "comment"
	case Notify:
		return "notify"
	case Record:
		return "record"
	case Status:
		return "status"
	case JoinLane:
		return "join_lane"
	case LeaveLane:
		return "leave_lane"
	case ResetLane:
		return "reset_lane"
	case ResetBranch:
		return "reset_branch"
	}
	return ""
}

func decodeAction(kind string, data json.RawMessage) (Action, error) {
	switch kind {
	case "build_car":
		return decode[BuildCar](data)
	case "start_pipeline":
		return decode[StartPipeline](data)
	case "cancel_pipeline":
		return decode[CancelPipeline](data)
	case "fast_forward":
		return decode[FastForwardTarget](data)
	case "delete_car_ref":
		return decode[DeleteCarRef](data)
	case "close_mr":
		return decode[CloseMR](data)
	case "comment":
		return decode[Comment](data)
	case "notify":
		return decode[Notify](data)
	case "record":
		return decode[Record](data)
	case "status":
		return decode[Status](data)
	case "join_lane":
		return decode[JoinLane](data)
	case "leave_lane":
		return decode[LeaveLane](data)
	case "reset_lane":
		return decode[ResetLane](data)
	case "reset_branch":
		return decode[ResetBranch](data)
	}
	return nil, fmt.Errorf("unknown action kind %q", kind)
}

func decode[A Action](data json.RawMessage) (Action, error) {
	var a A
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	return a, nil
}
