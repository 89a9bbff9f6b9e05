/**
 * Benchmarks of the kernel: its cold start in fresh JVMs ({@code distill bench kernel}), and the ones it
 * runs over contributions it finds in the registry ({@code distill bench loss}, {@code distill bench merge}),
 * so that no benchmark reaches into a bundle's internals.
 */
package org.distillery.kernel.bench;
