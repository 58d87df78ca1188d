package dev.attune.opensearch;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

import org.opensearch.OpenSearchParseException;
import org.opensearch.ingest.ConfigurationUtils;

/**
 * The validated configuration of a {@code personalized_search_ranking} processor: Amazon's
 * fields, rules and messages, as Attune's Rust {@code plugin_config::ProcessorConfig::from_raw}
 * states them (the shared vectors in {@code plugin-config/vectors/processor-configs.json} hold
 * both sides to the same text).
 *
 * <p>OpenSearch core reads {@code tag}, {@code ignore_failure} and {@code description} first; then
 * the types, property by property ({@code campaign_arn}, {@code iam_role_arn},
 * {@code external_account_iam_role_arn}, {@code recipe}, {@code item_id_field},
 * {@code aws_region}, {@code weight}); then the values ({@code weight}, {@code campaign_arn}, the
 * role ARNs, {@code recipe}); last, any other property is refused.
 */
public final class ProcessorConfig {
    /** The processor type, the same as Amazon's so existing pipelines work unchanged. */
    public static final String TYPE = "personalized_search_ranking";
    /** {@code aws-personalized-ranking}. */
    public static final String RECIPE = "aws-personalized-ranking";
    /** {@code aws-personalized-ranking-v2}. */
    public static final String RECIPE_V2 = "aws-personalized-ranking-v2";
    /** The {@code item_id_field} meaning the document id. */
    public static final String DOCUMENT_ID = "_id";

    /** Decimal text Rust's {@code f64::from_str} reads (after Java's trim and suffix rules). */
    private static final Pattern DECIMAL = Pattern.compile(
        "[+-]?(?:NaN|Infinity|(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?[dDfF]?)"
    );

    private final String campaignArn;
    private final String itemIdField;
    private final String recipe;
    private final double weight;
    private final String iamRoleArn;
    private final String externalAccountIamRoleArn;
    private final String awsRegion;

    private ProcessorConfig(
        String campaignArn,
        String itemIdField,
        String recipe,
        double weight,
        String iamRoleArn,
        String externalAccountIamRoleArn,
        String awsRegion
    ) {
        this.campaignArn = campaignArn;
        this.itemIdField = itemIdField;
        this.recipe = recipe;
        this.weight = weight;
        this.iamRoleArn = iamRoleArn;
        this.externalAccountIamRoleArn = externalAccountIamRoleArn;
        this.awsRegion = awsRegion;
    }

    /**
     * Reads and validates the processor's properties, removing them from {@code config}; refuses
     * any property left over (before core would, so the message is deterministic).
     *
     * @param tag the processor's tag, already read by core (may be null)
     * @param config the processor's configuration map
     * @return the configuration
     * @throws OpenSearchParseException with the message the user sees
     */
    public static ProcessorConfig read(String tag, Map<String, Object> config) {
        String campaignArn = ConfigurationUtils.readStringProperty(TYPE, tag, config, "campaign_arn");
        String iamRoleArn = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "iam_role_arn");
        String externalRoleArn = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "external_account_iam_role_arn");
        String recipe = ConfigurationUtils.readStringProperty(TYPE, tag, config, "recipe");
        String itemIdField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "item_id_field");
        String awsRegion = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "aws_region");
        double weight = parseWeight(tag, config.remove("weight"));

        checkWeight(tag, weight);
        checkCampaignArn(tag, campaignArn);
        checkRoleArn(tag, "iam_role_arn", iamRoleArn);
        checkRoleArn(tag, "external_account_iam_role_arn", externalRoleArn);
        if (!recipe.equals(RECIPE) && !recipe.equals(RECIPE_V2)) {
            throw error(
                tag,
                "recipe",
                "not supported recipe provided: " + RustText.debug(recipe) + " (supported: " + RECIPE + ", " + RECIPE_V2 + ")"
            );
        }
        if (!config.isEmpty()) {
            String name = tag == null ? TYPE : TYPE + ":" + tag;
            List<String> keys = new ArrayList<>(config.keySet());
            Collections.sort(keys);
            throw new OpenSearchParseException(
                "processor [" + name + "] doesn't support one or more provided configuration parameters: " + keys
            );
        }
        return new ProcessorConfig(campaignArn, itemIdField(itemIdField), recipe, weight, iamRoleArn, externalRoleArn, awsRegion);
    }

    /** The field an {@code item_id_field} value names: absent, blank or {@code _id} mean the document id. */
    static String itemIdField(String value) {
        if (value == null) {
            return DOCUMENT_ID;
        }
        String trimmed = value.trim();
        return trimmed.isEmpty() || trimmed.equals(DOCUMENT_ID) ? DOCUMENT_ID : value;
    }

    private static OpenSearchParseException error(String tag, String property, String reason) {
        return (OpenSearchParseException) ConfigurationUtils.newConfigurationException(TYPE, tag, property, reason);
    }

    /** A weight: a JSON number, or a string holding a decimal number. */
    static double parseWeight(String tag, Object value) {
        if (value == null) {
            throw error(tag, "weight", "required property is missing");
        }
        if (value instanceof Number) {
            return ((Number) value).doubleValue();
        }
        if (value instanceof String) {
            String s = trimJava((String) value);
            if (DECIMAL.matcher(s).matches()) {
                try {
                    return Double.parseDouble(s);
                } catch (NumberFormatException e) {
                    // Falls through to the error below.
                }
            }
            throw error(tag, "weight", "property cannot be converted to a double [" + value + "]");
        }
        throw error(tag, "weight", "property cannot be converted to a double [" + jsonText(value) + "]");
    }

    private static void checkWeight(String tag, double weight) {
        if (!(weight >= 0.0 && weight <= 1.0)) {
            throw error(tag, "weight", "invalid value for weight: must be between 0.0 and 1.0, found " + RustText.display(weight));
        }
    }

    /** {@code String.trim} as {@code Double.parseDouble} does it: characters up to U+0020. */
    private static String trimJava(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && s.charAt(start) <= ' ') {
            start++;
        }
        while (end > start && s.charAt(end - 1) <= ' ') {
            end--;
        }
        return s.substring(start, end);
    }

    /**
     * The service and resource of {@code arn:<partition>:<service>:<region>:<account>:<resource>}
     * (partition, service and resource not empty), or null.
     */
    private static String[] arnParts(String arn) {
        if (!arn.startsWith("arn:")) {
            return null;
        }
        String[] parts = arn.substring(4).split(":", 5);
        if (parts.length < 5 || parts[0].isEmpty() || parts[1].isEmpty() || parts[4].isEmpty()) {
            return null;
        }
        return new String[] { parts[1], parts[4] };
    }

    private static void checkCampaignArn(String tag, String arn) {
        String[] parts = arnParts(arn);
        boolean ok = arn.codePointCount(0, arn.length()) <= 256
            && parts != null
            && parts[0].equals("personalize")
            && parts[1].startsWith("campaign/")
            && parts[1].length() > "campaign/".length();
        if (!ok) {
            throw error(
                tag,
                "campaign_arn",
                "invalid format for Personalize campaign arn: "
                    + RustText.debug(arn)
                    + " is not arn:<partition>:personalize:<region>:<account>:campaign/<name>"
            );
        }
    }

    private static void checkRoleArn(String tag, String property, String arn) {
        if (arn == null || arn.trim().isEmpty()) {
            return;
        }
        String[] parts = arnParts(arn);
        if (parts == null || !parts[0].equals("iam")) {
            throw error(
                tag,
                property,
                "invalid format for Personalize iam role arn: " + RustText.debug(arn) + " is not arn:<partition>:iam::<account>:role/<name>"
            );
        }
    }

    /** A value as JSON text (object keys sorted), the way the Rust side prints it. */
    static String jsonText(Object value) {
        StringBuilder b = new StringBuilder();
        writeJson(b, value);
        return b.toString();
    }

    private static void writeJson(StringBuilder b, Object value) {
        if (value == null) {
            b.append("null");
        } else if (value instanceof String) {
            writeJsonString(b, (String) value);
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (d == Math.rint(d) && Math.abs(d) < 1e16) {
                b.append((long) d).append(".0");
            } else {
                b.append(Double.toString(d).replace(".0E", "e").replace('E', 'e'));
            }
        } else if (value instanceof Map) {
            b.append('{');
            Iterator<Map.Entry<String, Object>> it = new TreeMap<String, Object>(asStringMap((Map<?, ?>) value)).entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<String, Object> e = it.next();
                writeJsonString(b, e.getKey());
                b.append(':');
                writeJson(b, e.getValue());
                if (it.hasNext()) {
                    b.append(',');
                }
            }
            b.append('}');
        } else if (value instanceof Iterable) {
            b.append('[');
            Iterator<?> it = ((Iterable<?>) value).iterator();
            while (it.hasNext()) {
                writeJson(b, it.next());
                if (it.hasNext()) {
                    b.append(',');
                }
            }
            b.append(']');
        } else {
            b.append(value);
        }
    }

    private static Map<String, Object> asStringMap(Map<?, ?> map) {
        Map<String, Object> out = new TreeMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            out.put(String.valueOf(e.getKey()), e.getValue());
        }
        return out;
    }

    private static void writeJsonString(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    b.append("\\\"");
                    break;
                case '\\':
                    b.append("\\\\");
                    break;
                case '\n':
                    b.append("\\n");
                    break;
                case '\r':
                    b.append("\\r");
                    break;
                case '\t':
                    b.append("\\t");
                    break;
                case '\b':
                    b.append("\\b");
                    break;
                case '\f':
                    b.append("\\f");
                    break;
                default:
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }

    /** The campaign ARN. */
    public String campaignArn() {
        return campaignArn;
    }

    /** The {@code _source} field holding the item id, or {@code _id} for the document id. */
    public String itemIdField() {
        return itemIdField;
    }

    /** The recipe. */
    public String recipe() {
        return recipe;
    }

    /** The weight of personalization, in 0.0-1.0; 0 leaves hits untouched. */
    public double weight() {
        return weight;
    }

    /** The IAM role ARN, if given (accepted for compatibility, unused). */
    public String iamRoleArn() {
        return iamRoleArn;
    }

    /** The cross-account IAM role ARN, if given (accepted for compatibility, unused). */
    public String externalAccountIamRoleArn() {
        return externalAccountIamRoleArn;
    }

    /** The AWS region, if given (accepted for compatibility, unused). */
    public String awsRegion() {
        return awsRegion;
    }
}
