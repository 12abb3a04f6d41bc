package lql

// Selector is the JSON AST form of an LQL selector (the wire format of the
// lockd /v1/query "selector" member). At most one clause member is set on a
// leaf; And/Or/Not compose. The zero Selector matches everything.
type Selector struct {
	And       []Selector `json:"and,omitempty"`
	Or        []Selector `json:"or,omitempty"`
	Not       *Selector  `json:"not,omitempty"`
	Eq        *Term      `json:"eq,omitempty"`
	Contains  *Term      `json:"contains,omitempty"`
	IContains *Term      `json:"icontains,omitempty"`
	Prefix    *Term      `json:"prefix,omitempty"`
	IPrefix   *Term      `json:"iprefix,omitempty"`
	Range     *RangeTerm `json:"range,omitempty"`
	Date      *DateTerm  `json:"date,omitempty"`
	In        *InTerm    `json:"in,omitempty"`
	Exists    string     `json:"exists,omitempty"`
}

// Term is the operand of eq, contains, icontains, prefix and iprefix.
type Term struct {
	Field      string   `json:"field"`
	Value      string   `json:"value,omitempty"`
	Any        []string `json:"any,omitempty"`
	IgnoreCase bool     `json:"ignoreCase,omitempty"`
}

// RangeTerm is the operand of range. Bounds are numbers or datetime strings.
type RangeTerm struct {
	Field string `json:"field"`
	GT    any    `json:"gt,omitempty"`
	GTE   any    `json:"gte,omitempty"`
	LT    any    `json:"lt,omitempty"`
	LTE   any    `json:"lte,omitempty"`
}

// DateTerm is the operand of date.
type DateTerm struct {
	Field  string `json:"field"`
	Value  string `json:"value,omitempty"`
	Since  string `json:"since,omitempty"`
	After  string `json:"after,omitempty"`
	Before string `json:"before,omitempty"`
	GT     string `json:"gt,omitempty"`
	GTE    string `json:"gte,omitempty"`
	LT     string `json:"lt,omitempty"`
	LTE    string `json:"lte,omitempty"`
}

// InTerm is the operand of in.
type InTerm struct {
	Field string   `json:"field"`
	Any   []string `json:"any"`
}
