/**
 * {@code distill dashboard}: a local, read-only web app over run directories
 * ({@link org.distillery.dashboard.DashboardServer}) with runs and their status, live curves
 * streamed as server-sent events, seed groups with mean and band, the {@code distill compare}
 * table and an evaluation browser; and {@code distill export} ({@link org.distillery.dashboard.ExportCommand}).
 */
package org.distillery.dashboard;
