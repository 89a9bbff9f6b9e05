/**
 * Exports of a run to experiment trackers: TensorBoard event files
 * ({@link org.distillery.dashboard.export.TfEventsWriter}, {@link org.distillery.dashboard.export.TensorBoardExport})
 * and an MLflow tracking server's REST API ({@link org.distillery.dashboard.export.MlflowExport}).
 */
package org.distillery.dashboard.export;
