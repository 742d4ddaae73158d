// Package web serves Kith over HTTP: the JSON API under /api/v1, the
// server-rendered console (html/template with htmx), the health and metrics
// endpoints, and the platform callbacks.
//
// Every route is declared in routes.go with the permission it needs; the
// route table is the single place to read who may do what. Handlers parse
// the request, call a domain service and render; they hold no business
// rules. Application errors (kith.Error) map to HTTP statuses in errors.go.
package web
