// Package app wires Kith together: it prepares the data folder and the
// database, loads the instance secrets, builds the services, and runs the
// HTTP server and the job client until it is told to stop. cmd/kith calls
// it; tests call it to run a whole instance in-process.
package app
