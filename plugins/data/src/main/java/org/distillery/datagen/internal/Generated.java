package org.distillery.datagen.internal;

import java.util.List;

import org.distillery.api.data.DataGenerator;
import org.distillery.api.data.Example;
import org.distillery.api.data.GeneratorContext;

/**
 * A generator of this bundle: besides the records it reports their provenance, and it keeps its
 * response cache in the folder of the stage that runs it.
 */
abstract class Generated implements DataGenerator {

    /** The records and their provenance. */
    record Output(List<Example> examples, Provenance provenance) {
    }

    /** Produces the dataset; {@code context.workDir()} is the stage's folder (response cache). */
    abstract Output produce(GeneratorContext context) throws Exception;

    @Override
    public final List<Example> generate(GeneratorContext context) {
        try {
            return produce(context).examples();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** A per-request seed: the same for the same generator seed, purpose and index. */
    static long requestSeed(long seed, String purpose, long index) {
        long h = seed * 0x9E3779B97F4A7C15L + purpose.hashCode() * 0xC2B2AE3D27D4EB4FL + index;
        h ^= h >>> 33;
        h *= 0xFF51AFD7ED558CCDL;
        h ^= h >>> 33;
        return h & 0x7FFFFFFFL;
    }
}
