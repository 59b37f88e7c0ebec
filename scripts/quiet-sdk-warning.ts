/**
 * The AWS SDK warns on every process start that releases after January 2027 need
 * Node 22. The README says so once; scripts and tests keep their output readable.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
