/** Runs: run directories, the JSONL event log, terminal progress, stage execution and operator control. */
package org.distillery.kernel.run;
