package org.distillery.datagen.internal;

import com.typesafe.config.Config;

import org.distillery.api.data.DataGenerator;
import org.distillery.api.data.DataGeneratorFactory;
import org.distillery.kit.config.Params;

/**
 * A generator factory of this bundle: it reads its parameters with their experiment path, so the
 * {@code data.distill} method can check them at validation time and name the exact config path.
 */
abstract class GeneratorFactory implements DataGeneratorFactory {

    /** Builds the generator; {@code params} are merged over the defaults and carry their path. */
    abstract Generated create(Params params);

    @Override
    public final DataGenerator create(Config params) {
        return create(Params.of(params, "params"));
    }
}
