/**
 * Dataset reading and writing: the JSONL {@link org.distillery.api.data.DataService} the
 * kernel registers, line-numbered format errors and atomic file writes. The synthetic task
 * suite lives in {@link org.distillery.data.synthetic}.
 */
package org.distillery.data;
