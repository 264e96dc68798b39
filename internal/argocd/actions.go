/*
Copyright 2026 The msvc-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package argocd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Actions are the Argo CD resource actions of config/argocd/actions: a
// discovery script that says which actions apply to an object, and one
// script per action that returns the object changed.
type Actions struct {
	Discovery   string
	Definitions map[string]string
}

// LoadActions reads the scripts under dir: discovery.lua, and
// <name>/action.lua for each action.
func LoadActions(dir string) (Actions, error) {
	discovery, err := os.ReadFile(filepath.Join(dir, "discovery.lua"))
	if err != nil {
		return Actions{}, err
	}
	a := Actions{Discovery: string(discovery), Definitions: map[string]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Actions{}, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		script, err := os.ReadFile(filepath.Join(dir, e.Name(), "action.lua"))
		if err != nil {
			return Actions{}, err
		}
		a.Definitions[e.Name()] = string(script)
	}
	return a, nil
}

// Names are the actions' names, sorted.
func (a Actions) Names() []string {
	names := make([]string, 0, len(a.Definitions))
	for n := range a.Definitions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Discover runs the discovery script on obj and returns, for each action it
// lists, whether the action is enabled.
func (a Actions) Discover(obj any) (map[string]bool, error) {
	L, err := newState(obj)
	if err != nil {
		return nil, err
	}
	defer L.Close()
	if err := L.DoString(a.Discovery); err != nil {
		return nil, fmt.Errorf("running the discovery script: %w", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("the discovery script returned %s, want a table", L.Get(-1).Type())
	}
	enabled := map[string]bool{}
	var bad error
	ret.ForEach(func(k, v lua.LValue) {
		t, ok := v.(*lua.LTable)
		if !ok {
			bad = fmt.Errorf("action %s: want a table, got %s", k, v.Type())
			return
		}
		enabled[k.String()] = !lua.LVAsBool(t.RawGetString("disabled"))
	})
	return enabled, bad
}

// Run runs the action name on obj, as Argo CD does, and returns the object
// the script returns, decoded from JSON.
func (a Actions) Run(name string, obj any) (map[string]any, error) {
	script, ok := a.Definitions[name]
	if !ok {
		return nil, fmt.Errorf("no action %q", name)
	}
	L, err := newState(obj)
	if err != nil {
		return nil, err
	}
	defer L.Close()
	if err := L.DoString(script); err != nil {
		return nil, fmt.Errorf("running action %s: %w", name, err)
	}
	out, ok := fromLua(L.Get(-1)).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("action %s returned %s, want the object", name, L.Get(-1).Type())
	}
	return out, nil
}

// newState is a Lua state with obj, as decoded JSON, in the global obj.
func newState(obj any) (*lua.LState, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding object: %w", err)
	}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return nil, fmt.Errorf("decoding object: %w", err)
	}
	L := lua.NewState()
	L.SetGlobal("obj", toLua(L, generic))
	return L, nil
}

// fromLua converts a Lua value back to what JSON decodes to: a table whose
// keys are 1..n is an array, any other table an object.
func fromLua(v lua.LValue) any {
	switch v := v.(type) {
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		return string(v)
	case *lua.LTable:
		n, keys := v.MaxN(), 0
		v.ForEach(func(lua.LValue, lua.LValue) { keys++ })
		if n > 0 && n == keys {
			arr := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				arr = append(arr, fromLua(v.RawGetInt(i)))
			}
			return arr
		}
		m := map[string]any{}
		v.ForEach(func(k, e lua.LValue) { m[k.String()] = fromLua(e) })
		return m
	}
	return nil
}

// ConfigMap is the argocd-cm patch that installs the health check and the
// actions for Microservices.
func ConfigMap(health string, a Actions) (string, error) {
	type definition struct {
		Name      string `json:"name"`
		ActionLua string `json:"action.lua"`
	}
	defs := []definition{}
	for _, n := range a.Names() {
		defs = append(defs, definition{Name: n, ActionLua: a.Definitions[n]})
	}
	actions, err := yaml.Marshal(struct {
		DiscoveryLua string       `json:"discovery.lua"`
		Definitions  []definition `json:"definitions"`
	}{a.Discovery, defs})
	if err != nil {
		return "", err
	}
	cm := corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-cm", Namespace: "argocd", Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"}},
		Data: map[string]string{
			"resource.customizations.health.apps.msvc.dev_Microservice":  health,
			"resource.customizations.actions.apps.msvc.dev_Microservice": string(actions),
		},
	}
	out, err := yaml.Marshal(cm)
	if err != nil {
		return "", err
	}
	return "# Generated from config/argocd/health.lua and config/argocd/actions/ by\n" +
		"# `go test ./internal/argocd -run TestConfigMapIsCurrent -update`: do not edit.\n" +
		"# Install: kubectl -n argocd patch configmap argocd-cm --patch-file config/argocd/argocd-cm.yaml\n" +
		string(out), nil
}
