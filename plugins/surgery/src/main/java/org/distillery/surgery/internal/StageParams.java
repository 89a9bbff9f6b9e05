package org.distillery.surgery.internal;

import java.nio.file.Path;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.run.RunContext;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * What the bundle's stages share: their parameters laid over their defaults from the bundle's
 * {@code reference.conf} and checked against them (a stage's parameters may name where a method wrote
 * them in {@code config-path}, for messages), and references to models of earlier stages.
 */
final class StageParams {

    /** The parameter naming where a method wrote a stage's parameters. */
    static final String CONFIG_PATH = "config-path";

    /** The prefix of a reference to the model an earlier stage handed on. */
    static final String STAGE_PREFIX = "stage:";

    private StageParams() {
    }

    /** The parameters of {@code stage}, a {@link StageSpec} of trainer {@code key}, over its defaults and checked. */
    static Params of(Stage stage, String key) {
        if (!(stage instanceof StageSpec spec)) {
            throw new IllegalArgumentException(key + " runs stages with their own parameters, not " + stage);
        }
        Config given = spec.params();
        String path = given.hasPath(CONFIG_PATH) ? given.getString(CONFIG_PATH) : "stage " + spec.name();
        Config defaults = SurgeryModule.reference().getConfig(ContributionKind.TRAINER.defaultsPath(key));
        Config own = given.withoutPath(CONFIG_PATH);
        Params.checkKnown(own.root(), defaults.root(), path);
        return Params.of(own.withFallback(defaults).resolve(), path);
    }

    /** The stage's parameters for a method to build it: {@code params} plus where they were written. */
    static Config withPath(Config params, String path) {
        return params.withFallback(ConfigFactory.parseMap(java.util.Map.of(CONFIG_PATH, path)));
    }

    /**
     * The model folder a reference names: {@code stage:<name>} (the model an earlier stage of the run handed
     * on) or a folder.
     */
    static Path model(RunContext run, String reference, String where) {
        if (!reference.startsWith(STAGE_PREFIX)) {
            if (reference.isEmpty()) {
                throw new InvalidConfigException(where, "is missing", "\"\"", "a model folder or stage:<name>");
            }
            return Path.of(reference);
        }
        String name = reference.substring(STAGE_PREFIX.length());
        try {
            return Stages.modelOf(run.runDir(), name);
        } catch (IllegalStateException | java.io.IOException e) {
            throw new InvalidConfigException(where, "no earlier stage of this run handed on a model named " + name
                    + " (" + e.getMessage() + ")", reference, "stage:<an earlier training stage>, or a model folder");
        }
    }
}
