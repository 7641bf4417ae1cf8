// The command line the chaos page offers for the scripted scenarios. `tasklab chaos --url` needs an
// admin session token too (it refused the command the page used to print); the page shows it with a
// shell variable and copies it with the viewer's own token, never printing the token on screen.

export function chaosCommand(origin: string, token = '$TASKLAB_TOKEN', scenario = 'flood'): string {
  const quoted = token.startsWith('$') ? `"${token}"` : `'${token.replaceAll("'", "'\\''")}'`
  return `tasklab chaos ${scenario} --url ${origin} --token ${quoted}`
}
