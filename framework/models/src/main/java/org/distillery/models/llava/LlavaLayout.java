package org.distillery.models.llava;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.types.Shape;

import org.distillery.models.arch.Layout;
import org.distillery.models.vision.VisionTower;

/**
 * Parameter names of a LLaVA model and how checkpoint names map to them.
 *
 * <p>Canonical names are those current Hugging Face transformers saves (and Distillery writes):
 * <pre>
 *   model.vision_tower.vision_model.*          the tower
 *   model.multi_modal_projector.linear_{1,2}.* the projector
 *   model.language_model.*                     the language model's base (Llama: embed_tokens, layers, norm;
 *                                              GPT-2: wte, wpe, h, ln_f)
 *   lm_head.weight                             the output head (absent when tied)
 * </pre>
 * Checkpoints in two other layouts load as well ({@link #canonical}):
 * <ul>
 *   <li>legacy transformers (before 4.52): {@code language_model.model.*} (GPT-2:
 *       {@code language_model.transformer.*}), {@code language_model.lm_head.weight},
 *       {@code vision_tower.*}, {@code multi_modal_projector.*};</li>
 *   <li>TinyLLaVA and LLaVA-KD, by this key map over the legacy names:
 *       {@code connector._connector.0.} → {@code multi_modal_projector.linear_1.},
 *       {@code connector._connector.2.} → {@code multi_modal_projector.linear_2.} (their
 *       {@code mlp2x_gelu} connector: Linear, GELU, Linear), {@code vision_tower._vision_tower.} →
 *       {@code vision_tower.}. Their {@code config.json} is not Hugging Face's; write a LLaVA one
 *       for the weights (vision_config, text_config, {@code vision_feature_select_strategy = patch},
 *       the {@code image_token_index} of their tokenizer).</li>
 * </ul>
 */
public final class LlavaLayout {

    /** Prefix of the tower's parameters. */
    public static final String VISION = "model.vision_tower.";
    /** Prefix of the projector's parameters. */
    public static final String PROJECTOR = "model.multi_modal_projector.";
    /** Prefix of the language model's base parameters. */
    public static final String LANGUAGE = "model.language_model.";
    /** The output head. */
    public static final String HEAD = "lm_head.weight";

    /** TinyLLaVA / LLaVA-KD names and the legacy names they stand for, applied in order. */
    public static final List<Map.Entry<String, String>> TINY_LLAVA_KEY_MAP = List.of(
            Map.entry("connector._connector.0.", "multi_modal_projector.linear_1."),
            Map.entry("connector._connector.2.", "multi_modal_projector.linear_2."),
            Map.entry("vision_tower._vision_tower.", "vision_tower."));

    private LlavaLayout() {
    }

    /** Canonical names and shapes: tower, projector, then the language model (tied head excluded). */
    public static Map<String, Shape> shapes(LlavaConfig c) {
        Map<String, Shape> m = new LinkedHashMap<>();
        VisionTower.shapes(c.vision).forEach((n, s) -> m.put(VISION + n, s));
        long in = c.projectorInput();
        long h = c.text.hiddenSize;
        m.put(PROJECTOR + "linear_1.weight", new Shape(h, in));
        if (c.projectorBias) {
            m.put(PROJECTOR + "linear_1.bias", new Shape(h));
        }
        m.put(PROJECTOR + "linear_2.weight", new Shape(h, h));
        if (c.projectorBias) {
            m.put(PROJECTOR + "linear_2.bias", new Shape(h));
        }
        Layout.shapes(c.text).forEach((n, s) -> m.put(fromText(n), s));
        return m;
    }

    /** The LLaVA name of a text model's canonical parameter name. */
    public static String fromText(String textName) {
        if (textName.equals(HEAD)) {
            return HEAD;
        }
        int dot = textName.indexOf('.');
        return LANGUAGE + textName.substring(dot + 1);
    }

    /** The text model's canonical name of a LLaVA language-model name ({@code null} if it is not one). */
    public static String toText(LlavaConfig c, String llavaName) {
        if (llavaName.equals(HEAD)) {
            return HEAD;
        }
        if (!llavaName.startsWith(LANGUAGE)) {
            return null;
        }
        return (c.text.isGpt2() ? "transformer." : "model.") + llavaName.substring(LANGUAGE.length());
    }

    /** The canonical name of a checkpoint tensor in any of the three layouts. */
    public static String canonical(String fileName) {
        String n = fileName;
        for (Map.Entry<String, String> e : TINY_LLAVA_KEY_MAP) {
            if (n.startsWith(e.getKey())) {
                n = e.getValue() + n.substring(e.getKey().length());
            }
        }
        if (n.startsWith("language_model.model.")) {
            return LANGUAGE + n.substring("language_model.model.".length());
        }
        if (n.startsWith("language_model.transformer.")) {
            return LANGUAGE + n.substring("language_model.transformer.".length());
        }
        if (n.equals("language_model.lm_head.weight")) {
            return HEAD;
        }
        if (n.startsWith("vision_tower.")) {
            return "model." + n;
        }
        if (n.startsWith("multi_modal_projector.")) {
            return "model." + n;
        }
        return n;
    }

    /**
     * Whether a checkpoint tensor that is not a parameter may be ignored: the tower's
     * {@link VisionTower#tolerated} buffers and head, the language model's
     * {@link Layout#tolerated} ones, and a tied head saved anyway.
     */
    public static boolean tolerated(LlavaConfig c, String canonicalName) {
        if (canonicalName.startsWith(VISION)) {
            return VisionTower.tolerated(canonicalName.substring(VISION.length()));
        }
        String text = toText(c, canonicalName);
        return text != null && Layout.tolerated(c.text, text);
    }

    /** Std of random init for {@code name} (0: zeros, -1: ones). */
    public static double initStd(LlavaConfig c, String name) {
        if (name.startsWith(VISION)) {
            return VisionTower.initStd(c.vision, name.substring(VISION.length()));
        }
        if (name.startsWith(PROJECTOR)) {
            return name.endsWith(".bias") ? 0 : c.text.initializerRange;
        }
        return Layout.initStd(c.text, toText(c, name));
    }
}
