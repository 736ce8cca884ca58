package api_test

import "github.com/kiln-dev/kiln/service"

func serviceParams() service.CreateTokenParams { return service.CreateTokenParams{} }
