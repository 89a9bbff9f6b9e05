package org.distillery.api.model;

/** Builds a student before training, e.g. by aggregating a MoE teacher's experts. */
public interface ModelInitializer {
    /** Creates the student in the run's manager. */
    LanguageModel initialize(InitializerContext context, LanguageModel teacher);
}
