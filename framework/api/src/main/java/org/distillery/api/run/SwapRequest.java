package org.distillery.api.run;

import com.typesafe.config.Config;

/**
 * An operator's request to replace one loss term of a running run at the next step.
 *
 * @param id identifies the request in acknowledgements and the event log
 * @param term index of the term in {@code train.loss}
 * @param key the registry key of the new loss
 * @param params parameters for the new loss (merged over its defaults)
 */
public record SwapRequest(String id, int term, String key, Config params) {
}
