package dev.attune.opensearch;

import java.math.BigDecimal;

/**
 * Text formatted the way Attune's Rust side formats it, so a configuration error reads the same
 * in OpenSearch as in {@code plugin_config::ProcessorConfig::from_raw} (the shared vectors in
 * {@code plugin-config/vectors/processor-configs.json} check both).
 */
final class RustText {
    private RustText() {}

    /**
     * Rust's {@code Display} of an {@code f64}: the shortest digits that read back as the same
     * number, never an exponent ({@code 2}, {@code 1.5}, {@code 0.0000001}), {@code inf},
     * {@code -inf}, {@code NaN}.
     */
    static String display(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == 0) {
            return 1 / d < 0 ? "-0" : "0";
        }
        return new BigDecimal(Double.toString(d)).stripTrailingZeros().toPlainString();
    }

    /**
     * Rust's {@code Debug} of a {@code str}: quoted, with {@code \" \\ \n \r \t \0} escaped and
     * characters that are not printable (control, format, private use, unassigned, separators
     * other than the space) or that extend a grapheme written as backslash-u{hex}.
     */
    static String debug(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        s.codePoints().forEach(c -> {
            switch (c) {
                case 0:
                    b.append("\\0");
                    break;
                case '\t':
                    b.append("\\t");
                    break;
                case '\r':
                    b.append("\\r");
                    break;
                case '\n':
                    b.append("\\n");
                    break;
                case '"':
                    b.append("\\\"");
                    break;
                case '\\':
                    b.append("\\\\");
                    break;
                default:
                    if (graphemeExtend(c) || !printable(c)) {
                        b.append("\\u{").append(Integer.toHexString(c)).append('}');
                    } else {
                        b.appendCodePoint(c);
                    }
            }
        });
        return b.append('"').toString();
    }

    private static boolean printable(int c) {
        switch (Character.getType(c)) {
            case Character.CONTROL:
            case Character.FORMAT:
            case Character.SURROGATE:
            case Character.PRIVATE_USE:
            case Character.UNASSIGNED:
            case Character.LINE_SEPARATOR:
            case Character.PARAGRAPH_SEPARATOR:
                return false;
            case Character.SPACE_SEPARATOR:
                return c == ' ';
            default:
                return true;
        }
    }

    /** Unicode's Grapheme_Extend: the marks Mn and Me, and Other_Grapheme_Extend. */
    private static boolean graphemeExtend(int c) {
        int type = Character.getType(c);
        if (type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK) {
            return true;
        }
        switch (c) {
            case 0x09BE:
            case 0x09D7:
            case 0x0B3E:
            case 0x0B57:
            case 0x0BBE:
            case 0x0BD7:
            case 0x0CC2:
            case 0x0CD5:
            case 0x0CD6:
            case 0x0D3E:
            case 0x0D57:
            case 0x0DCF:
            case 0x0DDF:
            case 0x1B35:
            case 0x200C:
            case 0x302E:
            case 0x302F:
            case 0xFF9E:
            case 0xFF9F:
            case 0x1133E:
            case 0x11357:
            case 0x114B0:
            case 0x114BD:
            case 0x115AF:
            case 0x11930:
            case 0x1D165:
                return true;
            default:
                return (c >= 0x1D16E && c <= 0x1D172) || (c >= 0xE0020 && c <= 0xE007F);
        }
    }
}
