import { hello } from '@truceline/domain';
console.log(hello);
