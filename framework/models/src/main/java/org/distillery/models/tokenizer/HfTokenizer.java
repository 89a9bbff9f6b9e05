package org.distillery.models.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import org.distillery.api.InvalidFileException;
import org.distillery.api.model.Tokenizer;
import org.distillery.models.io.Json;

/**
 * A {@code tokenizer.json} tokenizer run by DJL's Hugging Face tokenizers, with special tokens
 * from {@code tokenizer_config.json} and a plain role-tagged chat template. Close it to free the
 * native tokenizer.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {

    private static final List<String> EOS_NAMES = List.of("</s>", "<|endoftext|>", "<eos>", "<|im_end|>", "<|eot_id|>",
            "[SEP]");
    private static final List<String> BOS_NAMES = List.of("<s>", "<bos>", "<|begin_of_text|>", "[CLS]");
    private static final List<String> PAD_NAMES = List.of("<pad>", "[PAD]", "<|pad|>");

    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;
    private final int eosId;
    private final int padId;
    private final int bosId;
    private final String fingerprint;
    private final ChatTemplates template;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize, int eosId, int padId, int bosId,
                        String fingerprint, ChatTemplates template) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.eosId = eosId;
        this.padId = padId;
        this.bosId = bosId;
        this.fingerprint = fingerprint;
        this.template = template;
    }

    /** Loads {@code tokenizer.json} (and {@code tokenizer_config.json} if present) of {@code dir}. */
    public static HfTokenizer load(Path dir) throws IOException {
        Path file = dir.resolve("tokenizer.json");
        JsonObject root = Json.readObject(file);
        JsonObject model = root.has("model") && root.get("model").isJsonObject() ? root.getAsJsonObject("model") : null;
        if (model == null) {
            throw new InvalidFileException(file, "missing \"model\" object");
        }
        String type = model.has("type") ? model.get("type").getAsString() : "unknown";
        Map<String, Integer> vocab = new HashMap<>();
        TreeMap<Integer, String> byId = new TreeMap<>();
        JsonElement v = model.get("vocab");
        if (v != null && v.isJsonObject()) {
            for (Map.Entry<String, JsonElement> e : v.getAsJsonObject().entrySet()) {
                int id = e.getValue().getAsInt();
                vocab.put(e.getKey(), id);
                byId.put(id, e.getKey());
            }
        } else if (v != null && v.isJsonArray()) {
            JsonArray a = v.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                JsonElement item = a.get(i);
                String tok = item.isJsonArray() ? item.getAsJsonArray().get(0).getAsString() : item.getAsString();
                vocab.put(tok, i);
                byId.put(i, tok);
            }
        } else {
            throw new InvalidFileException(file, "model has no vocab");
        }
        StringBuilder canon = new StringBuilder(type).append('\n');
        JsonElement added = root.get("added_tokens");
        List<String> addedLines = new ArrayList<>();
        if (added != null && added.isJsonArray()) {
            for (JsonElement e : added.getAsJsonArray()) {
                JsonObject o = e.getAsJsonObject();
                int id = o.get("id").getAsInt();
                String content = o.get("content").getAsString();
                vocab.put(content, id);
                byId.put(id, content);
                boolean special = o.has("special") && o.get("special").getAsBoolean();
                addedLines.add(id + "\t" + content + "\t" + special);
            }
        }
        byId.forEach((id, tok) -> canon.append(id).append('\t').append(tok).append('\n'));
        canon.append("added\n");
        addedLines.forEach(l -> canon.append(l).append('\n'));
        if (model.has("merges")) {
            canon.append("merges\n").append(model.get("merges").toString());
        }
        int size = byId.isEmpty() ? 0 : byId.lastKey() + 1;

        Map<String, Object> tc = Files.exists(dir.resolve("tokenizer_config.json"))
                ? Json.readMap(dir.resolve("tokenizer_config.json")) : Map.of();
        int eos = special(tc.get("eos_token"), vocab, EOS_NAMES);
        if (eos < 0) {
            throw new InvalidFileException(file, "cannot determine the end-of-sequence token; set \"eos_token\" in "
                    + "tokenizer_config.json");
        }
        int pad = special(tc.get("pad_token"), vocab, PAD_NAMES);
        int bos = special(tc.get("bos_token"), vocab, BOS_NAMES);
        ChatTemplates template = ChatTemplates.DEFAULT;
        if (tc.get("distillery_chat_template") instanceof Map<?, ?> m) {
            template = new ChatTemplates(String.valueOf(m.get("turn")), String.valueOf(m.get("generation_prompt")));
        }
        Map<String, String> options = new HashMap<>();
        options.put("addSpecialTokens", "false");
        options.put("truncation", "false");
        options.put("padding", "false");
        HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(file, options);
        String fp = "hf-" + type.toLowerCase(Locale.ROOT) + ":" + ByteTokenizer.sha256(canon.toString());
        return new HfTokenizer(tok, size, eos, pad < 0 ? eos : pad, bos, fp, template);
    }

    private static int special(Object configured, Map<String, Integer> vocab, List<String> fallbacks) {
        String name = null;
        if (configured instanceof String s) {
            name = s;
        } else if (configured instanceof Map<?, ?> m && m.get("content") != null) {
            name = m.get("content").toString();
        }
        if (name != null) {
            Integer id = vocab.get(name);
            return id == null ? -1 : id;
        }
        for (String n : fallbacks) {
            Integer id = vocab.get(n);
            if (id != null) {
                return id;
            }
        }
        return -1;
    }

    @Override
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, true);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public OptionalInt bosId() {
        return bosId < 0 ? OptionalInt.empty() : OptionalInt.of(bosId);
    }

    @Override
    public String fingerprint() {
        return fingerprint;
    }

    @Override
    public String applyChatTemplate(List<ChatTurn> turns, boolean addGenerationPrompt) {
        return template.render(turns, addGenerationPrompt);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
