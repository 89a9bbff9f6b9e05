/** The {@code distill} command line and the Gogo shell's {@code distill:*} commands. */
package org.distillery.kernel.cli;
