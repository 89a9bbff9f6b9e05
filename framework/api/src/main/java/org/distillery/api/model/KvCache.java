package org.distillery.api.model;

/** Keys and values of past positions, owned by the model that created it. */
public interface KvCache extends AutoCloseable {

    /** Number of positions cached. */
    int length();

    /** Frees the cached arrays. */
    @Override
    void close();
}
