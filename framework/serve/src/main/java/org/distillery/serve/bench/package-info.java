/** {@code distill bench serve}: throughput of the server at several numbers of concurrent clients. */
package org.distillery.serve.bench;
