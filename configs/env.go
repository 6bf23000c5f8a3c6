package configs

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

const envPrefix = "VITRINE_"

// applyEnv overlays VITRINE_<SECTION>_<KEY> variables on c. Lists are
// comma-separated; VITRINE_STREAMS is "id:key,id2:key2". A variable naming a
// known section but no key of it is an error, so a typo does not go
// unnoticed; other VITRINE_ variables (tools', tests') are set aside in
// c.IgnoredEnv for a warning.
func applyEnv(c *Config, environ []string) error {
	fields := envFields(c)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		if name == envPrefix+"STREAMS" {
			streams, err := parseStreams(value)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			c.Streams = streams
			continue
		}
		f, ok := fields[name]
		if !ok {
			section, _, _ := strings.Cut(strings.TrimPrefix(name, envPrefix), "_")
			if !sections[strings.ToLower(section)] {
				c.IgnoredEnv = append(c.IgnoredEnv, name)
				continue
			}
			return fmt.Errorf("%s is not a Vitrine setting (known: %s)", name, strings.Join(envNames(fields), ", "))
		}
		if err := setValue(f, value); err != nil {
			return fmt.Errorf("%s=%q: %w", name, value, err)
		}
	}
	return nil
}

// sections are the names of the config's sections, as in YAML.
var sections = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}()

// envFields maps every settable leaf of c to its variable name.
func envFields(c *Config) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	root := reflect.ValueOf(c).Elem()
	for i := range root.NumField() {
		section := root.Field(i)
		if section.Kind() != reflect.Struct {
			continue
		}
		sname := yamlName(root.Type().Field(i))
		for j := range section.NumField() {
			key := yamlName(section.Type().Field(j))
			out[envPrefix+strings.ToUpper(sname+"_"+key)] = section.Field(j)
		}
	}
	return out
}

func envNames(fields map[string]reflect.Value) []string {
	names := []string{envPrefix + "STREAMS"}
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

var durationType = reflect.TypeFor[Duration]()

func setValue(f reflect.Value, value string) error {
	if f.Type() == durationType {
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("not a duration (use e.g. 200ms, 1s, 5m)")
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("not a boolean (true or false)")
		}
		f.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		f.SetInt(int64(n))
	case reflect.Slice:
		var items []string
		for it := range strings.SplitSeq(value, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

func parseStreams(value string) ([]StreamKey, error) {
	var out []StreamKey
	for item := range strings.SplitSeq(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, key, _ := strings.Cut(item, ":")
		out = append(out, StreamKey{ID: id, Key: key})
	}
	return out, nil
}
