// Package lql implements LQL, the lockd query language: selectors that match
// JSON documents, mutations that edit them, and field projection, both over
// decoded values and over streams of JSON tokens.
package lql
