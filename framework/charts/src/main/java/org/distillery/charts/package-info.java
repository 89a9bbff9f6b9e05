/**
 * Run curves for people: {@link org.distillery.charts.EventTail} follows a run's
 * {@code events.jsonl} by byte offset, {@link org.distillery.charts.RunLog} turns its lines into
 * curves, markers and stage progress, {@link org.distillery.charts.Downsample} keeps long curves
 * drawable, and {@link org.distillery.charts.RunReport} writes the self-contained
 * {@code report.html} with the same uPlot charts the dashboard shows ({@link org.distillery.charts.WebAssets}).
 */
package org.distillery.charts;
