package org.distillery.rlkd.internal;

import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.run.RunResources;

/** Frozen copies of a model: a reference policy, or a lagged sampling copy. */
final class ModelCopies {

    private ModelCopies() {
    }

    /** A new model of {@code source}'s configuration in {@code manager}, with {@code source}'s current weights. */
    static LanguageModel copy(RunResources resources, LanguageModel source, NDManager manager) {
        LanguageModel copy = resources.models().create(source.config(), 0L, manager);
        copyInto(source, copy);
        return copy;
    }

    /** Overwrites {@code target}'s weights with {@code source}'s (same configuration). */
    static void copyInto(LanguageModel source, LanguageModel target) {
        Map<String, NDArray> from = source.parameters();
        for (Map.Entry<String, NDArray> e : target.parameters().entrySet()) {
            NDArray src = from.get(e.getKey());
            if (src == null || !src.getShape().equals(e.getValue().getShape())) {
                throw new IllegalStateException("cannot copy the model: parameter " + e.getKey() + " differs");
            }
            e.getValue().set(src.toType(e.getValue().getDataType(), false).toByteBuffer());
        }
    }
}
