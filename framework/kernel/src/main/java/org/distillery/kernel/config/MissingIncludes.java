package org.distillery.kernel.config;

import java.io.File;
import java.net.URL;
import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigIncludeContext;
import com.typesafe.config.ConfigIncluder;
import com.typesafe.config.ConfigIncluderClasspath;
import com.typesafe.config.ConfigIncluderFile;
import com.typesafe.config.ConfigIncluderURL;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;

/**
 * An includer that notes every {@code include} whose file does not exist. HOCON skips such an
 * include silently (only {@code include required(...)} fails), so a typo in a fragment's path would
 * leave an experiment without its fragment; the loader warns, naming the include. Everything is
 * included exactly as the default includer would.
 */
final class MissingIncludes implements ConfigIncluder, ConfigIncluderFile, ConfigIncluderURL, ConfigIncluderClasspath {

    private final List<String> missing;
    private final ConfigIncluder fallback;

    MissingIncludes() {
        this(new ArrayList<>(), null);
    }

    private MissingIncludes(List<String> missing, ConfigIncluder fallback) {
        this.missing = missing;
        this.fallback = fallback;
    }

    /** The includes that found no file, in the order met: {@code include "x" (…)}. */
    List<String> missing() {
        return List.copyOf(missing);
    }

    /** Options that use this includer. */
    ConfigParseOptions options(ConfigParseOptions base) {
        return base.setIncluder(this);
    }

    @Override
    public ConfigIncluder withFallback(ConfigIncluder next) {
        return next == fallback ? this : new MissingIncludes(missing, next);
    }

    /** Includes through {@code attempt}; when the include is optional and finds nothing, notes it. */
    private ConfigObject noting(ConfigIncludeContext context, String what, Include attempt) {
        if (!context.parseOptions().getAllowMissing()) {
            return attempt.include(context);
        }
        try {
            return attempt.include(context.setParseOptions(context.parseOptions().setAllowMissing(false)));
        } catch (ConfigException.IO e) {
            missing.add("include " + what);
            return ConfigFactory.empty().root();
        }
    }

    @FunctionalInterface
    private interface Include {
        ConfigObject include(ConfigIncludeContext context);
    }

    @Override
    public ConfigObject include(ConfigIncludeContext context, String what) {
        return noting(context, "\"" + what + "\"", c -> fallback.include(c, what));
    }

    @Override
    public ConfigObject includeFile(ConfigIncludeContext context, File what) {
        return noting(context, "file(\"" + what + "\")", c -> ((ConfigIncluderFile) fallback).includeFile(c, what));
    }

    @Override
    public ConfigObject includeURL(ConfigIncludeContext context, URL what) {
        return noting(context, "url(\"" + what + "\")", c -> ((ConfigIncluderURL) fallback).includeURL(c, what));
    }

    @Override
    public ConfigObject includeResources(ConfigIncludeContext context, String what) {
        return noting(context, "classpath(\"" + what + "\")",
                c -> ((ConfigIncluderClasspath) fallback).includeResources(c, what));
    }
}
