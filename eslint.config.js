// `npm run lint`: typescript-eslint's recommended rules over our own sources.
// Formatting is prettier's job (`prettier --check` in the same script), so no style rules here.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    // Generated bindings (cdktf get), bundles and installed packages are not ours to lint.
    ignores: ["**/dist/**", "**/.gen/**", "**/node_modules/**"],
  },
  {
    files: [
      "server/src/**/*.ts",
      "server/test/**/*.ts",
      "packages/*/src/**/*.ts",
      "packages/*/test/**/*.ts",
      "actions/preview-database/src/**/*.ts",
      "cdktf-constructs/src/**/*.ts",
      "scripts/**/*.ts",
      "test/**/*.ts",
    ],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      // Deliberately unused parameters and destructured leftovers are marked with a leading "_".
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
);
