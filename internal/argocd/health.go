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

// Package argocd runs the Argo CD health check of config/argocd/health.lua
// the way Argo CD does, with gopher-lua (the interpreter Argo CD embeds), so
// that tests can check it against real Microservices.
package argocd

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// Health is what the script returns.
type Health struct {
	Status  string
	Message string
}

// Evaluate runs script with obj (any Kubernetes object) as the global obj.
func Evaluate(script string, obj any) (Health, error) {
	L, err := newState(obj)
	if err != nil {
		return Health{}, err
	}
	defer L.Close()
	if err := L.DoString(script); err != nil {
		return Health{}, fmt.Errorf("running the health script: %w", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return Health{}, fmt.Errorf("the health script returned %s, want a table", L.Get(-1).Type())
	}
	return Health{Status: ret.RawGetString("status").String(), Message: luaString(ret.RawGetString("message"))}, nil
}

func luaString(v lua.LValue) string {
	if v == lua.LNil {
		return ""
	}
	return v.String()
}

// toLua converts decoded JSON into Lua values, as Argo CD does: objects
// become tables keyed by name, arrays tables indexed from 1.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	return lua.LString(fmt.Sprint(v))
}
