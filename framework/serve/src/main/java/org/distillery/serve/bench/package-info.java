/**
 * {@code distill bench serve}: throughput of the server at several numbers of concurrent clients,
 * and the mixed-load comparison of the window scheduler with continuous batching.
 */
package org.distillery.serve.bench;
