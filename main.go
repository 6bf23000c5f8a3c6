// Command vitrine is a self-hosted media server for live shopping.
//
// It imports configs and server only.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"vitrine/configs"
	"vitrine/server"
)

func main() {
	configFile := flag.String("config", "", "YAML configuration file (overrides the embedded defaults; VITRINE_* variables override both)")
	flag.Parse()

	cfg, err := configs.Load(*configFile, os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "vitrine: configuration: %v\n", err)
		os.Exit(2)
	}
	log := server.NewLogger(cfg.Log, os.Stderr)
	srv, err := server.New(cfg, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		log.Error("stopped on error", "error", err)
		os.Exit(1)
	}
}
