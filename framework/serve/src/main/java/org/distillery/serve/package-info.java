/**
 * Serving and remote teachers: an OpenAI-compatible HTTP server for any Distillery model
 * ({@code distill serve}) and the client that uses any such endpoint as a teacher.
 */
package org.distillery.serve;
